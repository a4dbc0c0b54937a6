package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// IOStreams are the streams a command reads and writes, injected so that
// tests run commands against buffers and see exactly what a user sees.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// InIsTerminal is true when a person types on In: commands then prompt
	// (without echo for values) instead of reading In to its end.
	InIsTerminal bool
	// OutIsTerminal is true when a person reads Out: `secret get` then ends
	// the value with a newline so the shell prompt starts on its own line.
	OutIsTerminal bool

	lines *bufio.Reader // In, buffered for line reads when it is no terminal file
}

// SystemStreams are the process's standard streams.
func SystemStreams() *IOStreams {
	return &IOStreams{
		In:            os.Stdin,
		Out:           os.Stdout,
		ErrOut:        os.Stderr,
		InIsTerminal:  term.IsTerminal(int(os.Stdin.Fd())),
		OutIsTerminal: term.IsTerminal(int(os.Stdout.Fd())),
	}
}

// terminalFD returns In's file descriptor when In is a real terminal, so
// it can be read without echo.
func (s *IOStreams) terminalFD() (int, bool) {
	f, ok := s.In.(*os.File)
	if !ok || !s.InIsTerminal {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// ReadHidden prompts on ErrOut and reads one line from the terminal
// without echoing it. Ctrl-C while it waits restores the terminal (echo
// back on) and returns the context's error.
func (s *IOStreams) ReadHidden(ctx context.Context, prompt string) ([]byte, error) {
	fmt.Fprint(s.ErrOut, prompt)
	defer fmt.Fprintln(s.ErrOut) // the user's Enter was not echoed either
	fd, ok := s.terminalFD()
	if !ok {
		// A terminal stand-in (tests): the line as typed.
		line, err := s.readLine(ctx)
		return []byte(line), err
	}
	state, err := term.GetState(fd)
	if err != nil {
		return nil, fmt.Errorf("read from terminal: %w", err)
	}
	value, err := interruptible(ctx, func() { _ = term.Restore(fd, state) }, func() ([]byte, error) {
		return term.ReadPassword(fd)
	})
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	return value, err
}

// Confirm asks a yes/no question on ErrOut; only "y" or "yes" agree.
func (s *IOStreams) Confirm(ctx context.Context, question string) (bool, error) {
	fmt.Fprintf(s.ErrOut, "%s [y/N]: ", question)
	answer, err := s.readLine(ctx)
	if err != nil {
		fmt.Fprintln(s.ErrOut) // after ^C, the error goes on its own line
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// readLine reads one line from In, without its line ending; end of input
// gives what was read so far.
func (s *IOStreams) readLine(ctx context.Context) (string, error) {
	if s.lines == nil {
		s.lines = bufio.NewReader(s.In)
	}
	b, err := interruptible(ctx, nil, func() ([]byte, error) {
		line, err := s.lines.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return line, err
	})
	if err != nil {
		return "", fmt.Errorf("read from terminal: %w", err)
	}
	return string(bytes.TrimRight(b, "\r\n")), nil
}

// interruptible runs a blocking read, returning early when ctx ends (the
// read cannot be cancelled, but the process is about to exit). restore, if
// given, undoes terminal changes the read made.
func interruptible(ctx context.Context, restore func(), read func() ([]byte, error)) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := read()
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		if restore != nil {
			restore()
		}
		return nil, ctx.Err()
	}
}
