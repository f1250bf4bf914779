"""``profile-files``: person pages a CMS exports as one JSON file per page.

The example connector of ``docs/connectors.md``: small, real, and tested by the
conformance kit like every other connector.
"""
