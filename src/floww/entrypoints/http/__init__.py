"""The server's HTTP edge: the JSON API, webhook ingress, the device approval page and the
OpenAPI document, assembled by ``floww.entrypoints.http.app.create_app``."""
