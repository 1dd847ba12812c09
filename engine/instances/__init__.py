"""Process instances in the database: one transaction per change (store), the steps that change them,
task claims, definitions, process groups and the read side (queries). Floor: imports the kernel,
storage/, workflow/, identity and access; never customers/ or sop/ (it is handed hooks and a registry)."""
