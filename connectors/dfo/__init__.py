"""The DFØ SAP HR connector: native ansatt/stilling JSON mapped to ``no.bott.hub.dfo`` records."""
