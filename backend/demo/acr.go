package demo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/helmupgradebot/helmupgradebot/backend/acrtest"
	"github.com/helmupgradebot/helmupgradebot/backend/azuretest"
	"github.com/helmupgradebot/helmupgradebot/backend/registrytest"
)

// Demo registry shape on ACR.
const (
	// rebuilt BinderHub images: their tag moved to a new build, leaving
	// the old manifest untagged, as a re-tag does on ACR.
	rebuilt = 3
	// undatedPushAge is when the images whose config has no trustworthy
	// created time were pushed.
	undatedPushAge = 60 * 24 * time.Hour
)

// acrDemo puts the demo's registry behind the ACR stand-in: push times
// from the seeded configs, BinderHub images rebuilt under the same tag
// (their old manifests now untagged) and one locked image. It returns the
// stand-in and a managed-identity credential that reaches only the
// stand-in, whatever the environment says.
func acrDemo(ctx context.Context, env *Env, reg *registrytest.Registry, now time.Time) (*acrtest.Server, azcore.TokenCredential, error) {
	id, err := azuretest.NewIdentity()
	if err != nil {
		return nil, nil, fmt.Errorf("demo: managed identity: %w", err)
	}
	env.closers = append(env.closers, func() { _ = id.Close() })
	srv, err := acrtest.New(ctx, reg, acrtest.WithIdentity(id))
	if err != nil {
		return nil, nil, fmt.Errorf("demo: ACR stand-in: %w", err)
	}
	env.closers = append(env.closers, func() { _ = srv.Close() })
	// Not azidentity's ManagedIdentityCredential: that one picks its
	// endpoint from the process environment (IDENTITY_ENDPOINT,
	// MSI_ENDPOINT, ...), so in a shell on App Service, Arc or Cloud Shell
	// the demo would ask that shell's endpoint. This one asks the stand-in
	// on loopback and reads no environment at all.
	cred := id.DirectCredential()

	for _, im := range env.Seeded.Images {
		pushed := pushTime(im, now)
		srv.SetCreated(im.Repository, im.Digest, pushed)
		for _, c := range im.Children {
			srv.SetCreated(im.Repository, c, pushed)
		}
	}
	if err := rebuild(ctx, env, srv, reg.Host(), now); err != nil {
		return nil, nil, err
	}
	if im := lockedImage(env.Seeded); im != nil {
		srv.Lock(im.Repository, im.Digest, false, true)
	}
	lockLevels(srv, env.Seeded, now)
	return srv, cred, nil
}

// pushTime is when the demo says an image was pushed: its config's time,
// or a while ago for a config dated 1970 or undated.
func pushTime(im registrytest.SeededImage, now time.Time) time.Time {
	if im.CreatedMissing || im.Created.Year() < 2000 {
		return now.Add(-undatedPushAge)
	}
	return im.Created
}

// rebuild pushes a new build of a few BinderHub images under their first
// tag. Builds are deterministic (a layer named after the image), so the
// demo's screens are the same on every start.
func rebuild(ctx context.Context, env *Env, srv *acrtest.Server, host string, now time.Time) error {
	done := 0
	for k := range env.Seeded.Images {
		im := &env.Seeded.Images[k]
		if done == rebuilt {
			break
		}
		if !strings.HasPrefix(unprefixed(im.Repository), "binder-") || len(im.Tags) == 0 || len(im.Children) > 0 ||
			now.Sub(pushTime(*im, now)) < 14*24*time.Hour {
			continue
		}
		tag := im.Tags[0]
		src, err := name.NewDigest(host+"/"+im.Repository+"@"+im.Digest, name.Insecure)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		dst, err := name.NewTag(host+"/"+im.Repository+":"+tag, name.Insecure)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		old, err := remote.Image(src, remote.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("demo: read %s: %w", im.Ref(), err)
		}
		built := now.Add(-time.Duration(2+done) * 24 * time.Hour)
		layer := static.NewLayer([]byte("rebuild of "+im.Repository+":"+tag+"\n"), types.DockerLayer)
		img, err := mutate.AppendLayers(old, layer)
		if err == nil {
			img, err = mutate.CreatedAt(img, v1.Time{Time: built})
		}
		if err != nil {
			return fmt.Errorf("demo: rebuild %s: %w", im.Ref(), err)
		}
		if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("demo: push rebuilt %s:%s: %w", im.Repository, tag, err)
		}
		seeded, err := seededOf(im.Repository, tag, img, built)
		if err != nil {
			return err
		}
		srv.SetCreated(im.Repository, seeded.Digest, built)
		im.Tags = slices.Delete(slices.Clone(im.Tags), 0, 1)
		env.Seeded.Images = append(env.Seeded.Images, seeded)
		done++
	}
	return nil
}

// seededOf describes a pushed image as registrytest does.
func seededOf(repo, tag string, img v1.Image, created time.Time) (registrytest.SeededImage, error) {
	d, err := img.Digest()
	if err != nil {
		return registrytest.SeededImage{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return registrytest.SeededImage{}, err
	}
	m, err := img.Manifest()
	if err != nil {
		return registrytest.SeededImage{}, err
	}
	mt, _ := img.MediaType()
	s := registrytest.SeededImage{Repository: repo, Digest: d.String(), MediaType: string(mt), Tags: []string{tag}, Created: created,
		Blobs: []registrytest.Blob{{Digest: d.String(), Size: int64(len(raw)), MediaType: string(mt)},
			{Digest: m.Config.Digest.String(), Size: m.Config.Size, MediaType: string(m.Config.MediaType)}}}
	for _, l := range m.Layers {
		s.Blobs = append(s.Blobs, registrytest.Blob{Digest: l.Digest.String(), Size: l.Size, MediaType: string(l.MediaType)})
	}
	return s, nil
}

// lockedImage is the image the demo locks: the oldest tagged BinderHub
// image, which the age policy would otherwise delete.
func lockedImage(s *registrytest.Seeded) *registrytest.SeededImage {
	var pick *registrytest.SeededImage
	for k := range s.Images {
		im := &s.Images[k]
		if !strings.HasPrefix(unprefixed(im.Repository), "binder-") || len(im.Tags) == 0 || im.CreatedMissing || im.Created.Year() < 2000 {
			continue
		}
		if pick == nil || im.Created.Before(pick.Created) {
			pick = im
		}
	}
	return pick
}
