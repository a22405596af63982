"""The report: typed data about one analysed workload (``report.py``, ``sections.py``,
``measurements.py``, ``comparison.py``), how it is built from op costs (``build.py``), and its
renderers (``render/``)."""
