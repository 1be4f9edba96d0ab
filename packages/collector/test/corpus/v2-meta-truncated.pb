

$2f9d1c3b-8a7e-4f60-9b21-0c4d5e6f7a8b$a6b5c4d3-e2f1-4a0b-9c8d-7e6f5a4b3c2d7
€€€€