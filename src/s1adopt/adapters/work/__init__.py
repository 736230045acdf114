"""Work engines behind ``services.ports.WorkEngine``: the durable queue on the store, the
in-process engine, a pool of worker processes on one machine, and Celery workers on RabbitMQ
(``celery_app``, ``celery_engine``) with what a cluster shares through the store: holds on
work items (``claims``), head-end session leases (``sessions``) and the scheduler's lock
(``locks``)."""
