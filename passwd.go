package main

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/term"

	"gatemq/internal/cliflag"
	"gatemq/internal/fmt"
	"gatemq/mqtt/auth"
)

// passwdUsage is printed for -h and usage errors of `gatemq passwd`.
const passwdUsage = `Usage: gatemq passwd [-c | -D] FILE USER
       gatemq passwd [-c] -b FILE USER PASSWORD

Creates or updates USER's entry in the Mosquitto-compatible password FILE
(PBKDF2-SHA512, "$7$" format, readable by mosquitto 2.x too). Without -b the
password is read from standard input: twice, with prompts, from a terminal
(with the echo turned off), else the first line.
The file is replaced atomically and left with mode 0600 (0640 when
its group, the folder's for a new file, is not the caller's: the
broker's group then reads it).

  -b  take the password from the command line (visible in ps and shell history)
  -c  create FILE, overwriting any existing one
  -D  delete USER from FILE
`

// runPasswd is the `gatemq passwd` subcommand, like mosquitto_passwd; args
// follow the word "passwd". It returns the exit code: 0 done, 1 failed,
// 2 bad usage.
func runPasswd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := cliflag.New("gatemq passwd", io.Discard)
	var create, del, batch bool
	flags.BoolVar(&create, "c", "")
	flags.BoolVar(&del, "D", "")
	flags.BoolVar(&batch, "b", "")
	usage := func(msg string) int {
		if msg != "" {
			fmt.Fprintln(stderr, "gatemq passwd:", msg)
		}
		fmt.Fprint(stderr, passwdUsage)
		return 2
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, cliflag.ErrHelp) {
			fmt.Fprint(stdout, passwdUsage)
			return 0
		}
		return usage(err.Error())
	}
	pos := flags.Args()
	want := 2
	if batch {
		want = 3
	}
	switch {
	case create && del:
		return usage("-c and -D cannot be combined")
	case del && batch:
		return usage("-D takes no password")
	case len(pos) != want:
		if !batch && len(pos) == 3 {
			return usage("a password on the command line needs -b")
		}
		return usage(fmt.Sprintf("want %d arguments, got %d", want, len(pos)))
	}
	file, user := pos[0], pos[1]
	fail := func(err error) int {
		fmt.Fprintln(stderr, "gatemq passwd:", err)
		return 1
	}

	var content []byte
	if !create {
		var err error
		content, err = os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) && !del {
			return fail(fmt.Errorf("%s does not exist (use -c to create it)", file))
		}
		if err != nil {
			return fail(err)
		}
		// Refuse to edit a file the broker would refuse to load.
		if _, err := auth.ParsePasswords(strings.NewReader(string(content)), file); err != nil {
			return fail(err)
		}
	}

	if del {
		out, found := auth.DeleteEntry(content, user)
		if !found {
			return fail(fmt.Errorf("user %q not found in %s", user, file))
		}
		if err := auth.WriteFile(file, out); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "deleted user %q from %s\n", user, file)
		return 0
	}

	if err := auth.ValidUsername(user); err != nil {
		return fail(err)
	}
	var password []byte
	if batch {
		password = []byte(pos[2])
	} else {
		var err error
		if password, err = readPassword(stdin, stderr); err != nil {
			return fail(err)
		}
	}
	hash, err := auth.HashPBKDF2(password, 0)
	if err != nil {
		return fail(err)
	}
	out, replaced, err := auth.SetEntry(content, user, hash)
	if err != nil {
		return fail(err)
	}
	if err := auth.WriteFile(file, out); err != nil {
		return fail(err)
	}
	verb := "added"
	if replaced {
		verb = "updated"
	}
	fmt.Fprintf(stdout, "%s user %q in %s\n", verb, user, file)
	return 0
}

// readPassword reads the password from stdin: from a terminal, twice after
// prompts on stderr, with the echo turned off; otherwise the first line.
func readPassword(stdin io.Reader, stderr io.Writer) ([]byte, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		pw, err := readLine(bufio.NewReader(stdin))
		if err != nil {
			return nil, fmt.Errorf("reading the password from standard input: %w", err)
		}
		return pw, nil
	}
	prompt := func(label string) ([]byte, error) {
		fmt.Fprint(stderr, label)
		pw, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr) // the newline the silent terminal did not show
		return pw, err
	}
	pw, err := prompt("Password: ")
	if err != nil {
		return nil, err
	}
	again, err := prompt("Reenter password: ")
	if err != nil {
		return nil, err
	}
	if string(pw) != string(again) {
		return nil, errors.New("passwords do not match")
	}
	return pw, nil
}

// readLine reads one line without its line end; a last line without a
// newline counts, an empty input does not.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no password given (end of input)")
		}
		return nil, err
	}
	line = []byte(strings.TrimRight(string(line), "\r\n"))
	return line, nil
}
