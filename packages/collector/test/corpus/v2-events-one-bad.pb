
j
$2f9d1c3b-8a7e-4f60-9b21-0c4d5e6f7a8b€‚’É *first2kafka8*B"{"format":"plain","encode":"json"}JmetaP
B€‚’É *bad2kafka8*B"{"format":"plain","encode":"json"}JmetaP
j
$2f9d1c3b-8a7e-4f60-9b21-0c4d5e6f7a8b€‚’É *third2kafka8*B"{"format":"plain","encode":"json"}JmetaP