"""Work engines behind ``services.ports.WorkEngine``: the durable queue on the store, the
in-process engine, and a pool of worker processes on one machine."""
