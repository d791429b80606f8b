"""Office files (OOXML and OpenDocument): the checks their zip archive passes before any
library reads it (`package`), and workbooks read as tables (`workbooks`), shared by the
document loaders and the table loader."""
