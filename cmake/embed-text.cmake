# Writes a C source file defining one NUL-terminated char array with the bytes of a text file.
# Usage: cmake -DINPUT=file -DOUTPUT=file.c -DSYMBOL=name -P embed-text.cmake
file(READ "${INPUT}" content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n\t" bytes "${bytes}")
file(WRITE "${OUTPUT}" "/* Generated from ${INPUT} by cmake/embed-text.cmake: do not edit. */\nconst char ${SYMBOL}[] = {\n\t${bytes}0x00\n};\n")
