"""Pure geometry for Tradeshub: coordinates, distances, service areas, matching, ETA.

No I/O and no asyncio here; ``hub`` and ``api`` import this package, never the reverse.

Public modules: :mod:`geo.types` (validated positions, ``GeoValidationError``),
:mod:`geo.distance`, :mod:`geo.areas` (service areas), :mod:`geo.index` (spatial index
of contractors), :mod:`geo.matching` (ranking) and :mod:`geo.eta`. Helpers behind them:
:mod:`geo.circle`, :mod:`geo.antimeridian`, :mod:`geo.ellipsoid_area`, :mod:`geo.grid`.
"""
