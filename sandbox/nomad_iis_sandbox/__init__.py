"""nomad-iis-sandbox: a local stand-in for a Nomad cluster whose Windows nodes run the Nomad IIS
driver and its Management API, faithful to upstream behaviour (quirks included)."""

__version__ = "0.1.0"
