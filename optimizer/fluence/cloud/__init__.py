"""The `cloud` generation of the Fluence API (Fluence's published specs, 0.8.210 and
0.10.0): wire models (`wire`), the typed client (`client`) and the adapter onto the
provider-neutral model (`adapter`)."""
