package main

import (
	"context"
	"strconv"

	"github.com/fiberws/fiberws"
)

// UploadController mirrors "Real-World Examples: File Upload Progress".
type UploadController struct{}

// Prefix puts the route under /upload.
func (UploadController) Prefix() string { return "/upload" }

// Routes lists /upload/progress.
func (c UploadController) Routes() []fiberws.Route {
	return []fiberws.Route{fiberws.WebSocket("/progress", c.handleUpload)}
}

// UploadProgress is the message a client sends while it uploads:
// {"filename": "a.bin", "progress": 42}. Progress is a pointer so that a
// message without it is an error rather than 0%.
type UploadProgress struct {
	Filename string `json:"filename"`
	Progress *int   `json:"progress"`
}

// handleUpload mirrors "File Upload Progress". A progress outside 0..100
// (or none) is invalid data: returning a *fiberws.CloseError closes the
// connection with its code, 1007 (invalid payload). A payload that is not
// JSON of this shape at all closes with 1007 too, by fiberws's default.
func (UploadController) handleUpload(_ context.Context, _ *fiberws.Conn[string], data UploadProgress) (string, error) {
	if data.Progress == nil || *data.Progress < 0 || *data.Progress > 100 {
		return "", &fiberws.CloseError{Code: fiberws.CloseInvalidPayload, Reason: "progress must be an integer from 0 to 100"}
	}
	if *data.Progress == 100 {
		return "Upload complete: " + data.Filename, nil
	}
	return "Upload progress: " + strconv.Itoa(*data.Progress) + "%", nil
}
