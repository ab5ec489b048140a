"""`kinn lab`: the seed articles' experiments as runnable walkthroughs.

Each lab is a folder of the source checkout's examples/ (`examples/seed-003-behind-the-scenes/`) with
the cluster config that reproduces the article's addressing and modes, the article's manifests, and
`lab.yaml`: the steps (title, explanation, shell command, and the key observation as a regex). The
walkthrough README next to it is generated from a real run (`kinn lab 003 --run --markdown`), so
the commands live in one place and the output shown is what a cluster printed.
"""
