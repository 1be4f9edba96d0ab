
$2f9d1c3b-8a7e-4f60