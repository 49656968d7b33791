"""Work spread over machines: many clips on a Ray cluster."""
