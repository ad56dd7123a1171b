package mobileapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"suiji/backend"
	"suiji/backend/sheet"
)

// Spreadsheets: every import (enterprises, inspectors, items) has the same
// HTTP shape, and so does every export.
//
// An import is a multipart/form-data POST with the file in the field
// "file" and partial=true|false (default false) as a form field or a query
// parameter. It answers 200 with {summary, partial, report} when the file
// was taken (with partial, rejected rows are in the report; without it, a
// row can still be rejected while the others are stored, when it loses its
// race to another writer, and the summary says what was stored), and, when
// a row was rejected without partial, the error shape with the summary and
// the report beside it: {"error": {...}, "summary": "…", "report": {...}}
// — nothing stored. So does an import a failure stopped after it began
// storing (a 5xx), whose summary says how many rows were stored. A file
// that is no spreadsheet or is too large gets the plain error shape.

// importer is a use case's import method.
type importer func(ctx context.Context, r io.Reader, opts sheet.ImportOptions) (*sheet.Report, error)

// importResponse is the answer to an import that was taken.
type importResponse struct {
	Summary string        `json:"summary"`
	Partial bool          `json:"partial"`
	Report  *sheet.Report `json:"report"`
}

// handleImport returns the handler of one import route.
func (s *Server) handleImport(imp importer) fiber.Handler {
	return func(c *fiber.Ctx) error {
		partial, err := partialFlag(c)
		if err != nil {
			return err
		}
		fh, err := c.FormFile("file")
		if err != nil {
			return backend.InvalidFields("send the spreadsheet as multipart/form-data",
				map[string]string{"file": "required: a CSV or XLSX file"})
		}
		f, err := fh.Open()
		if err != nil {
			return backend.Wrap(err, backend.EINTERNAL, "opening the upload")
		}
		defer f.Close()
		report, err := imp(c.UserContext(), f, sheet.ImportOptions{
			Filename: cloneQuery(fh.Filename), Partial: partial, MaxBytes: int64(s.cfg.UploadLimit),
		})
		if err != nil {
			if report == nil {
				return err
			}
			status, body := errorBodyFor(err)
			if status >= 500 {
				s.logger.ErrorContext(c.UserContext(), "import failed",
					slog.String("request_id", requestID(c)), slog.String("path", c.Path()),
					slog.Int("status", status), slog.Int("stored", report.Stored), slog.Any("error", err))
			}
			// The summary says what was stored: nothing for rejected rows,
			// the batches written before a failure that stopped the import.
			return c.Status(status).JSON(fiber.Map{"error": body.Error, "summary": report.Summary(partial), "report": report})
		}
		return c.JSON(importResponse{Summary: report.Summary(partial), Partial: partial, Report: report})
	}
}

// partialFlag reads partial from the form or the query string.
func partialFlag(c *fiber.Ctx) (bool, error) {
	v := c.FormValue("partial")
	if v == "" {
		v = c.Query("partial")
	}
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, backend.InvalidFields("invalid parameter", map[string]string{"partial": "true or false"})
}

// sheetExportParams reads format (xlsx, the default, or csv) and lang (zh,
// the default, or en).
func sheetExportParams(c *fiber.Ctx) (format, lang string, err error) {
	format, lang = cloneQuery(c.Query("format", sheet.FormatXLSX)), cloneQuery(c.Query("lang", sheet.Chinese))
	fields := map[string]string{}
	if format != sheet.FormatXLSX && format != sheet.FormatCSV {
		fields["format"] = "xlsx or csv"
	}
	if lang != sheet.Chinese && lang != sheet.English {
		fields["lang"] = "zh or en"
	}
	if len(fields) > 0 {
		return "", "", backend.InvalidFields("invalid query parameter", fields)
	}
	return format, lang, nil
}

// sendSheet sends an exported spreadsheet as a download.
func sendSheet(c *fiber.Ctx, buf *bytes.Buffer, format, basename string) error {
	if format == sheet.FormatCSV {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	} else {
		c.Set(fiber.HeaderContentType, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+basename+"."+format+`"`)
	return c.Send(buf.Bytes())
}
