"""The sandbox's state and rules, apart from the wire (views)."""
