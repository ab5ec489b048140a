"""The ingress controller (`kinn ingress-controller`): Ingresses served by a real nginx, as ingress-nginx serves them.

Informers keep Ingresses, IngressClasses, Services, EndpointSlices and Secrets (controller.py);
ingressclass.py decides which Ingresses are this controller's; configuration.py turns them into
servers, locations and upstreams (pure, ingress-nginx's createServers/createUpstreams), with
backends.py resolving a Service port to its ready endpoints and certificates.py reading TLS
Secrets; template.py renders the nginx.conf text (pure); nginx.py tests, writes and reloads it;
status.py publishes the controller Service's address on each Ingress it serves.
"""
