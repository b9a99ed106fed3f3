package protocol

import "strconv"

// MessageTooLargeText is .NET's InvalidDataException text for a message over
// the size limit (ErrMessageTooLarge); with detailed errors the server's
// Close carries "Connection closed with an error. InvalidDataException: " + it.
func MessageTooLargeText(maxSize int) string {
	return "The maximum message size of " + strconv.Itoa(maxSize) + "B was exceeded. The message size can be configured in AddHubOptions."
}
