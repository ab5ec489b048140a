"""`kinn topology`: a picture of a cluster's network drawn from live state (seeds 002 and 003's diagrams)."""
