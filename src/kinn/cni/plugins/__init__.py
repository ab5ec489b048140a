"""kinn's CNI plugins, each runnable as `python -m kinn.cni.plugins.<module>` (see kinn.cni.installer)."""
