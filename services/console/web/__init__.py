"""The console's HTTP side: Starlette routes, middleware, forms in, rendered templates out."""
