"""Migration work: one small handler per step, each applying one domain transition.

Steps, in order: ``upgrade`` (dormant devices to eligible firmware), ``test`` (Device
Testing), ``commission`` (DCC credentials generated and committed, then installed),
``enrol`` (DCC Service Flags). The worker chains them in memory; the store's work item always
holds the step to resume from.
"""
