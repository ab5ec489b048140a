"""kinn's CNI plugins, each runnable as `python -m kinn.cni.plugins.<module>` or through the
launcher kinn.cni.installer writes, which calls the module's `main`."""
