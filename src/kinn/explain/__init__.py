"""`kinn explain`: the objects behind a Service or pod and the kernel state that implements them, per node."""
