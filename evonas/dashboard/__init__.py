"""`nas dashboard`: a read-only web page over a database's runs, live while a search runs."""

from evonas.dashboard.server import make_server, serve

__all__ = ["make_server", "serve"]
