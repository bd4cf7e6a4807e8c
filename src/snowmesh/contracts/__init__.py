"""Client-side contract tooling: loading with clear errors, the pre-deploy gate, diff helpers, ODCS.

The contract engine itself (model, checks, schema diff, validation, version diff) lives in
procedures/governance/, because the in-warehouse procedure runs it too; this package only
wires it to the mesh (manifests, targets) and to files. Nothing here prints.
"""
