package ecrtest

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AWSConfig is an AWS configuration that reaches the stand-in: its region
// and static credentials, nothing read from the environment, the shared
// files or the instance metadata service. Give the ECR client the
// stand-in's endpoint ([Server.URL]) too.
func (s *Server) AWSConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, "")),
	}
}
