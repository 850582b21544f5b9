package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/platform/codec"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
)

// newCodecKeyCommand makes and rotates payload encryption keys, for the
// person who sets up or rotates the key ring. Its subcommands edit the key
// file that the processes read, so that a rotation is two commands and two
// rolls instead of hand edits whose order decides whether orders are lost.
func newCodecKeyCommand(g *globals) *cobra.Command {
	var id string
	var decryptOnly bool
	cmd := &cobra.Command{
		Use:   "codec-key",
		Short: "Make and rotate the keys that encrypt payloads: print a new key, or add, promote, list",
		Long: `codec-key prints a new random AES-256 key as one line of a key file, ID=base64;
its subcommands edit and show the key file that --codec-key-file or
ORDERSAGA_CODEC_KEY_FILE names.

Every key of the ring decrypts; the last key not marked decrypt-only encrypts
new payloads (a ring without marks: its last key). Every worker, starter and
codec server needs the ring, and a process cannot read a payload encrypted with
a key it lacks: an order worker without it fails the order. So a new key must
reach every process before any process encrypts with it. Rotate in two rolls:

  1. worker codec-key add        appends a new key marked decrypt-only;
     restart every worker, starter and codec server that reads the ring.
  2. worker codec-key promote ID makes it the encrypting key;
     restart them all again.

Keep old keys for as long as histories written with them are kept. Where the
ring is in ORDERSAGA_CODEC_KEYS, do the same by hand: append
",$(worker codec-key --decrypt-only)" everywhere, roll, then delete the words
" decrypt-only" everywhere, roll.

A key file must not be readable or writable by other users (chmod 600; its
group may read it, as a Kubernetes secret with defaultMode 0440).`,
		Example: `  export ORDERSAGA_CODEC_KEY_FILE=/etc/ordersaga/keys
  worker codec-key add                     # creates the file (mode 0600) with its first key
  worker codec-key add                     # rotation, step 1; then roll every process
  worker codec-key promote k-20260115-3fa9c1   # step 2; then roll every process again
  worker codec-key list
  export ORDERSAGA_CODEC_KEYS="$ORDERSAGA_CODEC_KEYS,$(worker codec-key --decrypt-only)"`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			k, err := codec.NewKey(id)
			if err != nil {
				return fmt.Errorf("make a key: %w", err)
			}
			_, err = fmt.Fprintln(g.stdout, k.WithDecryptOnly(decryptOnly).Line())
			return err
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "the key's ID (default k-<today>-<random>)")
	cmd.Flags().BoolVar(&decryptOnly, "decrypt-only", false, "mark the key decrypt-only: rotation's first step, for a ring in "+connect.CodecKeysEnv)
	cmd.AddCommand(newCodecKeyAddCommand(g), newCodecKeyPromoteCommand(g), newCodecKeyListCommand(g))
	return cmd
}

func newCodecKeyAddCommand(g *globals) *cobra.Command {
	var id string
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add a new key to the key file, decrypt-only: rotation's first step",
		Long: `add appends a new random key to the key file (--codec-key-file or
ORDERSAGA_CODEC_KEY_FILE), marked decrypt-only: every process that reads the
ring can decrypt with it, none encrypts with it yet. Restart every worker,
starter and codec server, then make it the encrypting key with 'promote'.

A missing key file is created, with mode 0600, and its first key encrypts.
The file is replaced in one step (a new file renamed over it), so a process
that starts meanwhile reads the old ring or the new one.`,
		Example: "  worker codec-key add --codec-key-file /etc/ordersaga/keys\n  worker codec-key add --id 2026-q1",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path, err := keyFileToEdit(g)
			if err != nil {
				return err
			}
			k, err := codec.NewKey(id)
			if err != nil {
				return fmt.Errorf("make a key: %w", err)
			}
			keys, err := codec.AddKeyToFile(path, k)
			if err != nil {
				return err
			}
			return printAdded(g, path, k.ID(), keys)
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "the key's ID (default k-<today>-<random>)")
	return cmd
}

// printAdded says what add did and what comes next.
func printAdded(g *globals, path, id string, keys []codec.Key) error {
	if !keys[len(keys)-1].DecryptOnly() {
		_, err := fmt.Fprintf(g.stdout, `key %s added to %s; it encrypts, being the ring's only key.
Next: give the ring to every worker first, then to the starters and the codec server.
`, id, path)
		return err
	}
	_, err := fmt.Fprintf(g.stdout, `key %s added to %s as %s: every process can decrypt with it once restarted; none encrypts with it yet.
Next: 1. restart every worker, starter and codec server that reads this ring;
      2. then run 'worker codec-key promote %s' on this file, and restart them all again.
`, id, path, codec.DecryptOnly, id)
	return err
}

func newCodecKeyPromoteCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "promote [ID]",
		Short: "Make a key of the key file the one that encrypts: rotation's second step",
		Long: `promote makes key ID (default: the file's last key) the key that encrypts new
payloads: it removes the key's decrypt-only mark and marks decrypt-only the
keys after it. Run it only once every worker, starter and codec server runs
with the key (after 'add' and a restart of each), then restart them all again.
Every key still decrypts. Promoting the key that encrypts already changes
nothing.`,
		Example: "  worker codec-key promote k-20260115-3fa9c1 --codec-key-file /etc/ordersaga/keys",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path, err := keyFileToEdit(g)
			if err != nil {
				return err
			}
			keys, changed, err := codec.PromoteKeyInFile(path, strings.Join(args, ""))
			if err != nil {
				return err
			}
			id := codec.EncryptingKeyID(keys)
			if !changed {
				_, err = fmt.Fprintf(g.stdout, "key %s encrypts already in %s: nothing changed.\n", id, path)
				return err
			}
			_, err = fmt.Fprintf(g.stdout, `key %s now encrypts in %s; every key still decrypts.
Next: restart every worker, starter and codec server that reads this ring. Keep the older keys for as long as histories written with them are kept.
`, id, path)
			return err
		},
	}
}

func newCodecKeyListCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the ring's key IDs and which one encrypts, without the keys",
		Long: `list shows the key ring the worker would use (--codec-key-file, else
ORDERSAGA_CODEC_KEY_FILE, else ORDERSAGA_CODEC_KEYS), oldest first: each key's
ID and its role, "encrypts" (the one key new payloads use), "decrypts" (an
older key) or "decrypt-only" (marked: added, not promoted). It never prints a
key.`,
		Example: "  worker codec-key list --codec-key-file /etc/ordersaga/keys\n  worker codec-key list -o json",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := cli.CheckOutput(g.output); err != nil {
				return err
			}
			keys, err := ringKeys(g)
			if err != nil {
				return err
			}
			return printKeys(g, keys)
		},
	}
	cli.RegisterOutput(cmd.Flags(), &g.output)
	return cmd
}

// keyFileToEdit is the key file that the processes read: --codec-key-file,
// else ORDERSAGA_CODEC_KEY_FILE.
func keyFileToEdit(g *globals) (string, error) {
	if path := cmp.Or(g.conn.CodecKeyFile, os.Getenv(connect.CodecKeyFileEnv)); path != "" {
		return path, nil
	}
	return "", errors.New("no key file to edit: give --codec-key-file FILE or set " + connect.CodecKeyFileEnv +
		" (for keys in " + connect.CodecKeysEnv + ", see 'worker codec-key --help')")
}

// ringKeys reads the key ring from where the other commands read it.
func ringKeys(g *globals) ([]codec.Key, error) {
	if path := cmp.Or(g.conn.CodecKeyFile, os.Getenv(connect.CodecKeyFileEnv)); path != "" {
		return codec.ReadKeys(path)
	}
	if text := os.Getenv(connect.CodecKeysEnv); strings.TrimSpace(text) != "" {
		return codec.ParseKeys(connect.CodecKeysEnv, text)
	}
	return nil, errors.New("no key ring: give --codec-key-file FILE, or set " + connect.CodecKeyFileEnv + " or " + connect.CodecKeysEnv)
}

// keyRole is a key as list shows it.
type keyRole struct {
	ID   string `json:"id"`
	Role string `json:"role"`
}

// Roles of a key in a ring.
const (
	roleEncrypts = "encrypts"
	roleDecrypts = "decrypts"
)

func printKeys(g *globals, keys []codec.Key) error {
	encrypting := codec.EncryptingKeyID(keys)
	roles := make([]keyRole, len(keys))
	for i, k := range keys {
		roles[i] = keyRole{ID: k.ID(), Role: roleDecrypts}
		switch {
		case k.ID() == encrypting:
			roles[i].Role = roleEncrypts
		case k.DecryptOnly():
			roles[i].Role = codec.DecryptOnly
		}
	}
	return cli.RenderEscapingHTML(g.stdout, g.output, roles, printKeyRoles)
}

// printKeyRoles prints the ring as a table, a key a row.
func printKeyRoles(w io.Writer, roles []keyRole) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE")
	for _, r := range roles {
		fmt.Fprintf(tw, "%s\t%s\n", r.ID, r.Role)
	}
	return tw.Flush()
}
