"""The migration programme: registration data, the exchange, demand and capacity,
authorisation, scheduling, notices, reports and the day-by-day run."""
