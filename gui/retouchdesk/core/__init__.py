"""Pure logic with no Qt and no network: schemas, job records, image I/O, masks."""
