"""A testing kit: faithful local fakes of the outside world."""
