"""The OrgReg connector: org units (reference data) mapped to ``no.bott.hub.orgreg.OrgUnit``."""
