// Package errgroup is a stub of golang.org/x/sync/errgroup.
package errgroup

type Group struct{}

func (g *Group) Go(f func() error)         { go f() }
func (g *Group) TryGo(f func() error) bool { go f(); return true }
func (g *Group) Wait() error               { return nil }
