
f
$2f9d1c3b-8a7e-4f60-9b21-0c4d5e6f7a8b€‚’É *a2kafka8*B"{"format":"plain","encode":"json"}JmetaP
f
$2f9d1c3b-8a7e-4f60-9b21-0c4d5e6f7a8b€‚’É *b2kafka8*B"{"format":"plain","encode":"json"}JmetaP
f
$2f9d1c3b-8a7e-4f60-9b21-0c4d5e6f7a8b€‚’É *c2kafka8*B"{"format":"plain","encode":"json"}J