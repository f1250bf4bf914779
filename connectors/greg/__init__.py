"""The Greg connector's own parts: UiO's guest registration, mapped to ``no.bott.hub.greg.Person``.

``mapping`` maps a person body, ``notifications`` reads Greg's events and list
pages, and ``fake_server`` is a faithful local fake of Greg's REST API.
"""
