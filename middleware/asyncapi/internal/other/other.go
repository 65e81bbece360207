// Package other holds a type named like one of the tests' own, to check
// that the document keeps two types of one name apart.
package other

// Point is a point of another package, with other fields.
type Point struct {
	Lat float64 `json:"lat" validate:"required"`
	Lng float64 `json:"lng" validate:"required"`
}
