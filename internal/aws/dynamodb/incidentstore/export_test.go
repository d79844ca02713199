package incidentstore

import (
	"crypto/sha256"
	"encoding/hex"
)

func RecordDictionarySHA256() string {
	sum := sha256.Sum256(recordDict)
	return hex.EncodeToString(sum[:])
}
