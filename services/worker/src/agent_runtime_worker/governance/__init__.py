"""Governance of model requests: budgets checked before, usage and cost recorded after."""
