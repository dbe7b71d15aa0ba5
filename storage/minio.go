package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// MinIOOptions configures the MinIO/S3 adapter. main maps the MINIO_*
// settings onto it.
type MinIOOptions struct {
	Endpoint  string // host:port, no scheme
	AccessKey string
	SecretKey string
	Bucket    string
	UseSSL    bool
	Region    string // empty: the server's default
	// PartSize is the multipart part size for uploads of unknown length
	// (default 16 MiB, minimum 5 MiB). Each such Put holds one part in
	// memory, so this times the number of concurrent Puts bounds memory.
	PartSize uint64
	// Transport replaces the HTTP transport (nil: minio-go's default).
	Transport http.RoundTripper
}

const defaultPartSize = 16 << 20

// MinIO stores objects in one bucket of an S3-compatible server. Content
// types are stored with the object, as given to Put.
type MinIO struct {
	client   *minio.Client
	bucket   string
	partSize uint64
}

var _ Storage = (*MinIO)(nil)

// NewMinIO connects and creates the bucket if it does not exist, so a fresh
// MinIO server works with no manual setup.
func NewMinIO(ctx context.Context, o MinIOOptions) (*MinIO, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, errors.New("storage: minio: endpoint and bucket are required")
	}
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:    o.UseSSL,
		Region:    o.Region,
		Transport: o.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: minio: %w", err)
	}
	exists, err := client.BucketExists(ctx, o.Bucket)
	if err != nil {
		return nil, fmt.Errorf("storage: minio: check bucket %q: %w", o.Bucket, err)
	}
	if !exists {
		err := client.MakeBucket(ctx, o.Bucket, minio.MakeBucketOptions{Region: o.Region})
		// Another process starting at the same moment may have won the race.
		if err != nil && s3Code(err) != "BucketAlreadyOwnedByYou" {
			return nil, fmt.Errorf("storage: minio: create bucket %q: %w", o.Bucket, err)
		}
	}
	ps := o.PartSize
	if ps == 0 {
		ps = defaultPartSize
	}
	return &MinIO{client: client, bucket: o.Bucket, partSize: ps}, nil
}

// Client exposes the underlying client, for operations the Storage
// interface does not cover (presigned URLs, bucket policies).
func (m *MinIO) Client() *minio.Client { return m.client }

// Put uploads r. A reader whose remaining length is known (it has a Len
// method, as bytes.Reader and strings.Reader do) goes up in one request;
// otherwise the upload is multipart with size -1 and the object appears only
// when the last part is complete, so a failed Put leaves nothing behind.
func (m *MinIO) Put(ctx context.Context, key string, r io.Reader, contentType string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	if contentType == "" {
		contentType = ContentTypeByExt(key)
	}
	size := int64(-1)
	if l, ok := r.(interface{ Len() int }); ok {
		size = int64(l.Len())
	}
	_, err := m.client.PutObject(ctx, m.bucket, key, ctxReader{ctx, r}, size, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    m.partSize,
	})
	if err != nil {
		return Info{}, m.wrap(ctx, "put", key, err)
	}
	// The upload response carries no content type or modification time;
	// a HEAD gives the values every later Stat will report.
	info, err := m.Stat(ctx, key)
	if err != nil {
		return Info{}, err
	}
	return info, nil
}

// Open returns the object; reads and seeks become ranged GETs, pinned to the
// version seen at Open by its ETag.
func (m *MinIO) Open(ctx context.Context, key string) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	obj, err := m.client.GetObject(ctx, m.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, m.wrap(ctx, "open", key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, m.wrap(ctx, "open", key, err)
	}
	return &minioObject{Object: obj, info: toInfo(key, st)}, nil
}

// Stat describes the object.
func (m *MinIO) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, err
	}
	st, err := m.client.StatObject(ctx, m.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, m.wrap(ctx, "stat", key, err)
	}
	return toInfo(key, st), nil
}

// Delete removes the object; S3 already treats a missing key as success.
func (m *MinIO) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := m.client.RemoveObject(ctx, m.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if isS3NotFound(err) {
			return nil
		}
		return m.wrap(ctx, "delete", key, err)
	}
	return nil
}

func (m *MinIO) wrap(ctx context.Context, op, key string, err error) error {
	if isS3NotFound(err) {
		return notFound(key)
	}
	if isS3Full(err) {
		return fmt.Errorf("storage: minio %s %q: %w: %w", op, key, ErrFull, err)
	}
	// minio-go reports a cancelled request in its own words; callers
	// should still be able to tell cancellation from failure.
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("storage: minio %s %q: %w (%w)", op, key, cerr, err)
	}
	return fmt.Errorf("storage: minio %s %q: %w", op, key, err)
}

func s3Code(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

// isS3Full reports MinIO refusing a write for want of room (its code, or the HTTP
// status 507 Insufficient Storage).
func isS3Full(err error) bool {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	return er.Code == "XMinioStorageFull" || er.StatusCode == 507
}

func isS3NotFound(err error) bool {
	switch s3Code(err) {
	case "NoSuchKey", "NoSuchObject":
		return true
	}
	// HEAD responses have no body, so a missing key may arrive as a bare 404.
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.StatusCode == http.StatusNotFound && er.Code != "NoSuchBucket"
}

func toInfo(key string, st minio.ObjectInfo) Info {
	ct := st.ContentType
	if ct == "" {
		ct = ContentTypeByExt(key)
	}
	return Info{Key: key, ContentType: ct, Size: st.Size, ModTime: st.LastModified}
}

type minioObject struct {
	*minio.Object
	info Info
}

func (o *minioObject) Info() Info { return o.info }
