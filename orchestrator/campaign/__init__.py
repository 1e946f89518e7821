"""The campaign protocol: plan, folder and state, warm-up, measured runs, idle gaps, resume."""
