"""Simulated calls: the simulator that renders a flow's actions as text, and caller scripts."""
