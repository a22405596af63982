"""The ground floor every front end writes and every later stage reads.

* ``records``: ``TensorMeta``, ``OpRecord``, ``ModuleInfo`` and ``CapturedGraph`` (what a capture saw);
* ``inputs``: ``InputSpec`` and the ``1x3x224x224`` / ``ids=1x128:int64`` shape syntax;
* ``memory``: the memory a device has free, so inputs and models too large for it are refused first;
* ``opnames``: op-name forms (``aten.relu_.default`` -> packet ``aten.relu_``, family ``aten.relu``).
"""
