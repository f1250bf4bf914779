"""The web profile connector: published person pages mapped to ``no.bott.hub.web.Profile``."""
