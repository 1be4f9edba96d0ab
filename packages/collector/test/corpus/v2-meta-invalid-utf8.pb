
(
$2f9d1c3b-8a7e-4f60-9b21-0c4d5e6f7a8b0Bÿþ€