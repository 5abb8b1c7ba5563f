package modbus

// constError is an error whose value is its message, as board/serial's:
// the package's sentinel errors are laid out as data by the linker, where
// errors.New runs at init. Being comparable, it works with errors.Is as
// errors.New's errors do.
type constError string

func (e constError) Error() string { return string(e) }
