"""Engine-neutral measurement: periods and windows, the plan each rule is measured by,
targets, scoring and the result schema. The engines translate what this package describes."""
