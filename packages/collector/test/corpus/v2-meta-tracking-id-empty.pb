
($a6b5c4d3-e2f1-4a0b-9c8d-7e6f5a4b3c2d0