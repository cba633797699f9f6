"""The engine-neutral plan: periods, what each rule reads and computes, as plain data.

`population` turns a rule into steps (`steps`), `measures` groups rules into plans and adds
up what the engines bring back; `kpitool.polars` and `kpitool.spark` translate the steps.
"""
